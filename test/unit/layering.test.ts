import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The layering lint rule (eslint.config.js, docs/architecture.md) fails the build on a
 * wrong-way import. Each case lints one import line as if it were written in `file`.
 */
const eslint = new ESLint({ cwd: process.cwd() });

async function layeringErrors(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${source}\nexport const used = x;\n`, { filePath: file });
  return result!.messages.filter((message) => message.ruleId === 'no-restricted-imports').map((message) => message.message);
}

describe('the layering rule', () => {
  it.each([
    ['shared/usecases/example.ts', "import { x } from '../adapters/storage/folder';", 'a use case imports no adapter'],
    ['shared/usecases/restore/example.ts', "import type { x } from '../../adapters/catalog/dynamo';", 'a use case imports no adapter'],
    ['shared/usecases/example.ts', "import { x } from '../wal-host/codec';", 'a use case imports no adapter'],
    ['shared/usecases/example.ts', "import { x } from '../runtime/aws';", 'a use case imports no adapter'],
    ['shared/adapters/storage/example.ts', "import { x } from '../../usecases/restore';", 'an adapter imports only ports and the domain'],
    ['shared/adapters/sfn/example.ts', "import type { x } from '../catalog/dynamo';", 'an adapter does not import another adapter'],
    ['shared/domain/example.ts', "import { x } from '../adapters/postgres/client';", 'the domain is pure'],
    ['shared/domain/wal/example.ts', "import { x } from '../../usecases/pitr';", 'the domain is pure'],
    ['shared/ports/example.ts', "import type { x } from '../usecases/pitr';", 'ports are contracts'],
    ['shared/wal-host/example.ts', "import { x } from '../usecases/wal-archive';", 'the WAL host runs on the database server'],
    ['shared/wal-host/example.ts', "import type { x } from '../ports/storage';", 'the WAL host runs on the database server'],
    ['shared/wal-host/example.ts', "import { x } from '../adapters/wal-codec/inspect';", 'the WAL host runs on the database server'],
  ])('refuses in %s: %s', async (file, source, message) => {
    // Act
    const errors = await layeringErrors(file, source);

    // Assert
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(message);
  });

  it.each([
    ['shared/usecases/example.ts', "import type { x } from '../ports/storage';"],
    ['shared/usecases/restore/example.ts', "import { x } from '../../domain/manifest';"],
    ['shared/usecases/restore/example.ts', "import { x } from './stream';"],
    ['shared/adapters/storage/example.ts', "import type { x } from '../../ports/storage';"],
    ['shared/adapters/storage/example.ts', "import { x } from './keys';"],
    ['shared/adapters/storage/example.ts', "import { x } from '../../domain/hashing-stream';"],
    ['shared/wal-host/example.ts', "import { x } from '../domain/wal/names';"],
    ['shared/runtime/example.ts', "import { x } from '../adapters/storage/folder';"],
    ['shared/cli/commands/example.ts', "import { x } from '../../usecases/restore';"],
  ])('allows in %s: %s', async (file, source) => {
    // Act
    const errors = await layeringErrors(file, source);

    // Assert
    expect(errors).toEqual([]);
  });
});
