/** Options every subcommand understands; each reads what it needs. */
export interface CliOptions {
  config?: string;
  set: string[];
  json: boolean;
  /** doctor: send the Gemini key to a non-Google, non-loopback analysis.baseUrl. */
  trustBaseUrl?: boolean;
  positionals: string[];
}
