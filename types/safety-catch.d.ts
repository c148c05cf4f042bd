declare module 'safety-catch' {
  function safetyCatch(err: unknown): void
  export = safetyCatch
}
