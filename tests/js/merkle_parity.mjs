// Reference side of tests/test_merkle.py: answers each stdin line (a JSON request) with one JSON
// line computed by @openzeppelin/merkle-tree, so Python and JS can be compared leaf by leaf.
//   {"op": "build", "types": [...], "values": [...]} -> {root, proofs, valueProofs, dump}
//   {"op": "load", "dump": {...}}                     -> {root, proofs, valueProofs, dump}
//   {"op": "verify", "root", "types", "value", "proof"} -> {ok}
// proofs[i] is the proof of the i-th value by index, valueProofs[i] the proof looked up by value.
import { createInterface } from 'node:readline';
import merkleTree from '@openzeppelin/merkle-tree';

const { StandardMerkleTree } = merkleTree;

function describe(tree) {
  const values = Array.from(tree.entries(), ([, value]) => value);
  return {
    root: tree.root,
    proofs: values.map((_, i) => tree.getProof(i)),
    valueProofs: values.map(value => tree.getProof(value)),
    dump: tree.dump(),
  };
}

function answer(request) {
  switch (request.op) {
    case 'build':
      return describe(StandardMerkleTree.of(request.values, request.types));
    case 'load':
      return describe(StandardMerkleTree.load(request.dump));
    case 'verify':
      return { ok: StandardMerkleTree.verify(request.root, request.types, request.value, request.proof) };
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue;
  let reply;
  try {
    reply = answer(JSON.parse(line));
  } catch (error) {
    reply = { error: String(error?.message ?? error) };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
}
