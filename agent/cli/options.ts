/** Options every subcommand understands; each reads what it needs. */
export interface CliOptions {
  config?: string;
  set: string[];
  json: boolean;
  positionals: string[];
}
