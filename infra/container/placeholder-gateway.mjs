// The gateway container's entry point, a PLACEHOLDER until the gateway has an MQTT backend
// channel to IoT Core: it runs the local server (`lwm2m-bs serve`), whose store is an
// ephemeral dynalite inside the task, NOT the stack's table. It also answers TCP on the health
// port while that server runs, because a Network Load Balancer cannot health-check UDP.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

const healthPort = Number(process.env.HEALTH_PORT ?? 8080);
const child = spawn(process.execPath, ['cli/bin.mjs', 'serve', '--port', '5683', '--no-ipv6', '--json', '--data-dir', '/tmp/lwm2m-bs'], { stdio: 'inherit' });
const health = createServer((socket) => socket.end()).listen(healthPort);

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  health.close();
  process.exitCode = code ?? (signal ? 1 : 0);
});
