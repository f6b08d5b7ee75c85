// Bundles the WAL host program (wal-push / wal-fetch, shared/wal-host/main.ts) into ONE
// self-contained ESM file: it is copied wherever the postgres OS user can read it, so
// nothing may stay external. PostgreSQL starts it once per WAL file, so parse time is
// start-up time: it is minified, and the AWS signing code (~350 KB, needed only with
// `auth.type: iam`) is embedded gzip'ed as a string that is evaluated on first use only.
// The one optional companion: zstd-napi's compiled addon, copied beside the bundle as
// `zstd.node` when npm built it (in-process zstd; without it Node 22.15+'s own, else gzip).
//   node scripts/build-wal.mjs [outfile]      (default dist/wal.js)
import { build } from 'esbuild';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { URL, fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const common = { bundle: true, platform: 'node', target: 'node20', minify: true, keepNames: true, legalComments: 'none', logLevel: 'warning' };

/** Replaces auth.ts's `import('./sigv4')` by a module that evaluates the signer's CommonJS bundle from a string. */
const embedSigner = {
  name: 'embed-sigv4',
  setup(builder) {
    builder.onResolve({ filter: /^\.\/sigv4$/ }, (args) => (args.importer.endsWith('auth.ts') ? { path: 'sigv4', namespace: 'embedded' } : undefined));
    builder.onLoad({ filter: /.*/, namespace: 'embedded' }, async () => {
      const inner = await build({ ...common, entryPoints: [resolve(root, 'shared/wal-host/sigv4.ts')], format: 'cjs', write: false });
      // gzip + base64: a quarter of the bytes to read and scan at every start-up.
      const packed = gzipSync(inner.outputFiles[0].contents, { level: 9 }).toString('base64');
      return {
        loader: 'js',
        resolveDir: root,
        contents:
          `import { createRequire } from 'node:module';\n` +
          `const source = process.getBuiltinModule('node:zlib').gunzipSync(Buffer.from(${JSON.stringify(packed)}, 'base64')).toString('utf8');\n` +
          `const module = { exports: {} };\n` +
          `new Function('require', 'module', 'exports', source)(createRequire(import.meta.url), module, module.exports);\n` +
          `export const createSigner = module.exports.createSigner;\n`,
      };
    });
  },
};

/** Builds the bundle to `outfile` (relative paths are taken from the repository root). */
export async function buildWal({ outfile = 'dist/wal.js' } = {}) {
  await build({
    ...common,
    entryPoints: [resolve(root, 'shared/wal-host/main.ts')],
    outfile: resolve(root, outfile),
    format: 'esm',
    plugins: [embedSigner],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  const addon = join(dirname(resolve(root, outfile)), 'zstd.node');
  const built = zstdAddon();
  if (built) copyFileSync(built, addon);
  else rmSync(addon, { force: true });
}

/** zstd-napi's compiled addon, when the optional dependency was built; else undefined. */
function zstdAddon() {
  try {
    const path = join(dirname(createRequire(import.meta.url).resolve('zstd-napi/package.json')), 'build/Release/binding.node');
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await buildWal({ outfile: process.argv[2] });
}
