#!/usr/bin/env python3
"""Check every inclusion proof of a tdei proof bundle (doc/bundle.md)
with an RFC 6962 / RFC 9162 verifier written here, sharing no code with
tdei: the leaf hash of each tx and result, its audit path up to the
root, and that root against the txs_root (field 6) or last_results_root
(field 7) of the header, read from the header's protobuf bytes.

    rfc6962_check.py BUNDLE

Prints one line per failure and a summary; exit 0 when every proof
holds, 1 otherwise, 2 on bad usage."""
import hashlib
import json
import sys


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(data):
    return sha256(b"\x00" + data)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def verify_inclusion(index, size, leaf, path, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def varint(buf, pos):
    value, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, pos


def header_fields(buf):
    """The length-delimited fields of a serialized Header, by number."""
    fields, pos = {}, 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 2:
            n, pos = varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        else:
            raise ValueError("wire type %d in a header" % wire)
        fields[number] = value
    return fields


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        bundle = json.load(f)
    roots = {}
    for h in bundle["headers"]:
        fields = header_fields(bytes.fromhex(h["header"]))
        roots[h["height"]] = (fields.get(6), fields.get(7))
    bad = checked = 0
    for i, e in enumerate(bundle["events"]):
        for name, data, height, which in (
            ("tx", e["tx"], e["height"], 0),
            ("result", e["result"], e["height"] + 1, 1),
        ):
            proof = e[name + "_proof"]
            leaf = leaf_hash(bytes.fromhex(data))
            path = [bytes.fromhex(p) for p in proof["path"]]
            root = bytes.fromhex(proof["root"])
            problems = []
            if leaf != bytes.fromhex(proof["leaf_hash"]):
                problems.append("leaf_hash")
            if proof["leaf_index"] != e["index"]:
                problems.append("leaf_index")
            if not verify_inclusion(proof["leaf_index"], proof["tree_size"],
                                    leaf, path, root):
                problems.append("path")
            if height not in roots or roots[height][which] != root:
                problems.append("header root")
            checked += 1
            if problems:
                bad += 1
                print("events[%d] %s proof: %s" % (i, name, ", ".join(problems)))
    print("%d proofs checked, %d failed" % (checked, bad))
    return 0 if bad == 0 and checked > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
