// Failures of the host-tool CLIs: each is one line a person can act on, with the exit code it means.
export class ToolError extends Error {
  override name = 'ToolError';
  constructor(
    message: string,
    /** 2 for a usage mistake (as parseArgs conventions go), 1 for anything else. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function usageError(message: string): ToolError {
  return new ToolError(message, 2);
}
