// Record which sources the shipped build came from: sha256 over src/* (name, NUL, content,
// NUL, in name order). tests/unit/test_highlight.py recomputes it, so a change to the source
// without a rebuild (or a rebuild not committed) fails a test.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const src = path.join(__dirname, '..', 'src');
const digest = crypto.createHash('sha256');
for (const name of fs.readdirSync(src).sort()) {
  digest.update(Buffer.concat([
    Buffer.from(name), Buffer.from([0]), fs.readFileSync(path.join(src, name)), Buffer.from([0])
  ]));
}
const out = path.join(__dirname, '..', '..', 'drillbook', 'labextension', 'source-digest.txt');
fs.writeFileSync(out, digest.digest('hex') + '\n');
