// Reads a .pkpass written by Relais with passkit-generator, an implementation we do not
// share code with, and prints what it understood as JSON on stdout.
//
// usage: node read_pkpass.cjs PASS.pkpass CERT.pem KEY.pem WWDR.pem [KEY_PASSWORD]
//
// passkit-generator validates pass.json against its own schemas (unknown keys, colours,
// dates, field shapes) and warns instead of failing; warnings are captured and printed.
// The pass is exported again, so the output also holds passkit-generator's own manifest
// (SHA-1 computed by node-forge) for the same files and the strings files it re-wrote from
// what it parsed; a clone made with PKPass.from() must carry the same pass.json.
"use strict";

const fs = require("node:fs");
const zlib = require("node:zlib");
const { PKPass } = require("passkit-generator");

function readZip(buffer) {
	// End of central directory: the last 22 bytes when there is no archive comment.
	const end = buffer.length - 22;
	if (buffer.readUInt32LE(end) !== 0x06054b50) {
		throw new Error("no end of central directory record (comment or zip64?)");
	}
	const count = buffer.readUInt16LE(end + 10);
	let cursor = buffer.readUInt32LE(end + 16);
	const files = {};
	const entries = [];
	for (let i = 0; i < count; i++) {
		if (buffer.readUInt32LE(cursor) !== 0x02014b50) {
			throw new Error(`bad central directory entry ${i}`);
		}
		const method = buffer.readUInt16LE(cursor + 10);
		const compressedSize = buffer.readUInt32LE(cursor + 20);
		const nameLength = buffer.readUInt16LE(cursor + 28);
		const extraLength = buffer.readUInt16LE(cursor + 30);
		const commentLength = buffer.readUInt16LE(cursor + 32);
		const localOffset = buffer.readUInt32LE(cursor + 42);
		const name = buffer.toString("utf8", cursor + 46, cursor + 46 + nameLength);
		const localNameLength = buffer.readUInt16LE(localOffset + 26);
		const localExtraLength = buffer.readUInt16LE(localOffset + 28);
		const start = localOffset + 30 + localNameLength + localExtraLength;
		const raw = buffer.subarray(start, start + compressedSize);
		files[name] = method === 8 ? zlib.inflateRawSync(raw) : Buffer.from(raw);
		entries.push({ name, method });
		cursor += 46 + nameLength + extraLength + commentLength;
	}
	return { files, entries };
}

async function main() {
	const [passPath, certPath, keyPath, wwdrPath, keyPassword] = process.argv.slice(2);
	const warnings = [];
	console.warn = (...args) => warnings.push(args.map(String).join(" "));

	const { files, entries } = readZip(fs.readFileSync(passPath));
	const certificates = {
		signerCert: fs.readFileSync(certPath),
		signerKey: fs.readFileSync(keyPath),
		wwdr: fs.readFileSync(wwdrPath),
		signerKeyPassphrase: keyPassword,
	};
	const original = new PKPass(files, certificates);
	const languages = original.languages;
	let exported;
	let cloneProps = null;
	try {
		const clone = await PKPass.from(original);
		cloneProps = JSON.parse(clone.getAsRaw()["pass.json"].toString("utf8"));
		exported = original.getAsRaw();
	} catch (error) {
		// A pass.json its schemas refused leaves a pass without a type, which cannot be
		// exported: report it with the warnings rather than crash.
		process.stdout.write(
			JSON.stringify({ entries, type: null, warnings, exportError: String(error) }),
		);
		return;
	}

	const translations = {};
	for (const [name, buffer] of Object.entries(exported)) {
		const match = name.match(/^([A-Za-z-]+)\.lproj\/pass\.strings$/);
		if (match) {
			translations[match[1]] = buffer.toString("utf8");
		}
	}
	const output = {
		entries,
		type: original.type,
		props: JSON.parse(exported["pass.json"].toString("utf8")),
		cloneProps,
		languages,
		translations,
		manifest: JSON.parse(exported["manifest.json"].toString("utf8")),
		signatureBytes: exported.signature.length,
		warnings,
	};
	process.stdout.write(JSON.stringify(output));
}

main().catch((error) => {
	process.stderr.write(String(error && error.stack ? error.stack : error));
	process.exit(1);
});
