// Baseline for benchmarks/wallet_pkpass.py: signed .pkpass per second with
// passkit-generator, from the same model files and certificate as the Python side.
//
// usage: node wallet_pkpass_baseline.cjs MODEL_DIR CERT.pem KEY.pem WWDR.pem PASSWORD RUNS COUNT
// prints {"rates": [passes per second of each run]}
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { createRequire } = require("node:module");

// passkit-generator is installed (npm ci) next to the tests that also use it.
const requireFromTests = createRequire(
	path.resolve(__dirname, "..", "tests", "wallet", "node", "package.json"),
);
const { PKPass } = requireFromTests("passkit-generator");

async function main() {
	const [model, certPath, keyPath, wwdrPath, password, runs, count] = process.argv.slice(2);
	const certificates = {
		signerCert: fs.readFileSync(certPath),
		signerKey: fs.readFileSync(keyPath),
		wwdr: fs.readFileSync(wwdrPath),
		signerKeyPassphrase: password || undefined,
	};
	// Files read once, like our cached images; each pass is then built from them (pass.json
	// and strings parsed, manifest hashed, signed, zipped), with its own serial number.
	const buffers = {};
	for (const entry of fs.readdirSync(model, { recursive: true, withFileTypes: true })) {
		if (entry.isFile()) {
			const full = path.join(entry.parentPath ?? entry.path, entry.name);
			buffers[path.relative(model, full)] = fs.readFileSync(full);
		}
	}
	const rates = [];
	for (let run = 0; run < Number(runs); run++) {
		const started = process.hrtime.bigint();
		for (let i = 0; i < Number(count); i++) {
			const pass = new PKPass(buffers, certificates, { serialNumber: `bench-${run}-${i}` });
			const zip = pass.getAsBuffer();
			if (i === 0 && !zip.includes("fr.lproj/pass.strings")) {
				throw new Error("the baseline lost the French strings");
			}
		}
		const seconds = Number(process.hrtime.bigint() - started) / 1e9;
		rates.push(Number(count) / seconds);
	}
	process.stdout.write(JSON.stringify({ rates }));
}

main().catch((error) => {
	process.stderr.write(String(error && error.stack ? error.stack : error));
	process.exit(1);
});
