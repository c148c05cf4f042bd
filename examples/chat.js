// A chat over a multifeed: every participant writes its own feed, everyone reads everyone's.
//   node examples/chat.js ./alice                 # prints the room key
//   node examples/chat.js ./bob <room key>        # joins the room
// Type a line to send it. Peers find each other on the Hyperswarm DHT.
const readline = require('readline')
const Multifeed = require('..')
const { Networker } = Multifeed

async function main (dir, key) {
  const room = new Multifeed(dir, { key, valueEncoding: 'json' })
  await room.ready()
  console.log('room key:', room.key.toString('hex'))

  // every message of every participant: what is stored, then live (feeds of people we meet later too),
  // reading through a small window of open feeds however many people the room has
  room.createReadStream({ live: true }).on('data', ({ value: msg }) => {
    console.log(`[${new Date(msg.time).toLocaleTimeString()}] ${msg.nick}: ${msg.text}`)
  })

  const me = await room.writer('me')
  const nick = process.env.USER || 'anon'
  const net = new Networker()
  await net.swarm(room)

  const input = readline.createInterface({ input: process.stdin })
  input.on('line', (text) => me.append({ nick, text, time: Date.now() }))
  input.on('close', async () => {
    await net.destroy()
    await room.close()
  })
}

main(process.argv[2] || './chat-data', process.argv[3]).catch((err) => {
  console.error(err.message)
  process.exit(1)
})
