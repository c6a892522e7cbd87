// The benchmark's agent: prints its first line, tells the benchmark it runs (a TCP
// "hello", a clock neutral to both supervisors), then idles.
import net from 'node:net'

const name = process.env.NAME ?? 'agent'
console.log(`ready ${name} ${process.pid}`)
const socket = net.connect(Number(process.env.HELLO_PORT), '127.0.0.1', () => {
  socket.end(`${name} ${process.pid}\n`)
})
socket.on('error', () => {})
setInterval(() => {}, 3_600_000)
