import { CommanderError } from 'commander';
import { muteSdkNodeVersionWarning } from '../runtime/node-warnings';
import { EXIT_CODE } from './output';
import { buildProgram } from './program';

async function main(argv: string[]): Promise<void> {
  muteSdkNodeVersionWarning();
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? EXIT_CODE.ok : EXIT_CODE.usage;
      return;
    }
    throw error;
  }
}

void main(process.argv);
