// Parses an AsyncAPI document with the official parser (@asyncapi/parser, installed by ./dev
// into .npm-tools) and prints its diagnostics as one JSON array: [{severity, code, message, path}].
// Severity follows Spectral: 0 error, 1 warning, 2 information, 3 hint.
const path = require("node:path");
const { Parser, fromFile } = require(path.resolve(__dirname, "../../.npm-tools/node_modules/@asyncapi/parser"));

async function main() {
  const parser = new Parser();
  const { diagnostics } = await fromFile(parser, process.argv[2]).parse();
  const out = diagnostics.map((d) => ({
    severity: d.severity, code: String(d.code), message: d.message, path: d.path.join("."),
  }));
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => { process.stderr.write(String(err) + "\n"); process.exit(2); });
