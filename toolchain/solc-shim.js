#!/usr/bin/env node
// A native-looking `solc` for tools that expect a binary (forge, ape-solidity/py-solc-x).
// It answers `--version` in the native format and forwards `--standard-json` (stdin to stdout)
// to the npm `solc` package, resolving imports against --base-path, --include-path and cwd.
// Nothing is downloaded: the compiler is node_modules/solc/soljson.js.
"use strict";
const fs = require("fs");
const path = require("path");

const projectRoot = path.resolve(__dirname, "..");
const solc = require(path.join(projectRoot, "node_modules", "solc"));

const args = process.argv.slice(2);
const fullVersion = solc.version(); // e.g. 0.8.28+commit.7893614a.Emscripten.clang
const nativeVersion = fullVersion.replace(/\.Emscripten\.clang$/, ".Linux.g++");

function optionValues(name) {
  const values = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name && i + 1 < args.length) values.push(args[++i]);
    else if (args[i].startsWith(name + "=")) values.push(args[i].slice(name.length + 1));
  }
  return values;
}

if (args.includes("--version") || args.includes("-v")) {
  process.stdout.write(
    "solc, the solidity compiler commandline interface\nVersion: " + nativeVersion + "\n",
  );
  process.exit(0);
}

if (!args.includes("--standard-json")) {
  process.stderr.write("solc shim: only --version and --standard-json are supported\n");
  process.exit(2);
}

const searchRoots = [
  ...optionValues("--base-path"),
  ...optionValues("--include-path"),
  process.cwd(),
  projectRoot,
  path.join(projectRoot, "node_modules"),
].map((p) => path.resolve(p));

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath)
    ? [importPath]
    : searchRoots.map((root) => path.join(root, importPath));
  for (const candidate of candidates) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: "File not found: " + importPath };
}

const input = fs.readFileSync(0, "utf8");
const output = solc.compile(input, { import: findImports });
process.stdout.write(output);
