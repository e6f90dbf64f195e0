// A plain Node.js HTTP server: the seed story. It needs no privileges and
// no file capabilities; portgate grants its cgroup tcp/80.
'use strict';
const http = require('http');
const os = require('os');

const port = Number(process.argv[2] || 80);
const server = http.createServer((req, res) => {
	res.writeHead(200, { 'content-type': 'text/plain' });
	res.end(`hello from node ${process.version}, uid ${process.getuid()}, port ${port}\n`);
});
server.on('error', (e) => {
	console.error(`server: cannot listen on port ${port}: ${e.code} (${e.message})`);
	process.exit(1);
});
server.listen(port, '0.0.0.0', () => {
	console.log(`server: listening on port ${port} as uid ${process.getuid()} on ${os.hostname()}`);
});
