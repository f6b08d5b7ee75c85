/**
 * On Node 20 the AWS SDK prints a six-line NodeVersionSupportWarning at every start of a
 * command. Strongbox supports Node 20 on purpose (README: Lambda and the task image run
 * Node 22), so that one warning is dropped; every other warning is still printed.
 */
export function muteSdkNodeVersionWarning(): void {
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'NodeVersionSupportWarning' || warning.message.startsWith('NodeVersionSupportWarning')) return;
    for (const print of printers) print(warning);
  });
}
