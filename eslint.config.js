import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Layering (docs/architecture.md): which folders a folder may import. A wrong-way import fails
 * the build. `shared/ports/` holds every contract; adapters implement them, use cases depend on
 * them; `shared/runtime/` wires the two; the WAL host is a leaf of its own.
 */
const layer = (folders, message) => ({
  regex: `^(\\.\\./)+(${folders.join('|')})(/|$)`,
  message,
});
const edges = ['cli', 'local', 'runtime', 'archive-endpoint', 'functions', 'tasks'];
const layering = [
  {
    files: ['shared/domain/**/*.ts'],
    patterns: [layer(['adapters', 'usecases', 'wal-host', ...edges], 'the domain is pure: it imports only the domain, ports and errors')],
  },
  {
    files: ['shared/ports/**/*.ts'],
    patterns: [layer(['adapters', 'usecases', 'wal-host', ...edges], 'ports are contracts: they import only the domain and other ports')],
  },
  {
    files: ['shared/adapters/**/*.ts'],
    patterns: [
      layer(['usecases', 'wal-host', ...edges], 'an adapter imports only ports and the domain (the wiring is in shared/runtime)'),
      { regex: '^\\.\\./[a-z]', message: 'an adapter does not import another adapter: depend on its port in shared/ports' },
    ],
  },
  {
    files: ['shared/usecases/**/*.ts'],
    patterns: [layer(['adapters', 'wal-host', ...edges], 'a use case imports no adapter: take a port (shared/ports) as a dependency')],
  },
  {
    files: ['shared/wal-host/**/*.ts'],
    patterns: [layer(['adapters', 'usecases', 'ports', ...edges], 'the WAL host runs on the database server: it imports nothing of the Lambda side')],
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.serverless/', '.esbuild/', '.strongbox/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // CommonJS files (serverless.yml's variable resolvers) load modules with require().
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly' } },
  },
  ...layering.map(({ files, patterns }) => ({ files, rules: { 'no-restricted-imports': ['error', { patterns }] } })),
);
