/** The command table: every command the agent answers on `R/cmd/<name>`. */
import { analyzeCommand } from './analyze.js';
import { getConfigCommand } from './getConfig.js';
import { listArchivesCommand } from './listArchives.js';
import { pingCommand } from './ping.js';
import { probeCommand } from './probe.js';
import { restartPipelineCommand } from './restartPipeline.js';
import { searchCommand } from './search.js';
import { setConfigCommand } from './setConfig.js';
import { snapshotCommand } from './snapshot.js';
import { updateCommand } from './update.js';
import type { CommandDeps, CommandTable } from './types.js';

export type { AnalysisControl, CommandDeps, CommandSpec, CommandTable, ConfigControl, UpdateControl } from './types.js';

/** Builds the table the router dispatches on (a Map-free plain object with no prototype). */
export function createCommands(deps: CommandDeps): CommandTable {
  const table: CommandTable = Object.create(null) as CommandTable;
  table.ping = pingCommand(deps);
  table['get-config'] = getConfigCommand(deps);
  table['set-config'] = setConfigCommand(deps);
  table['restart-pipeline'] = restartPipelineCommand(deps);
  table.snapshot = snapshotCommand(deps);
  table['list-archives'] = listArchivesCommand(deps);
  table.analyze = analyzeCommand(deps);
  table.probe = probeCommand(deps);
  table.search = searchCommand(deps);
  table.update = updateCommand(deps);
  return table;
}
