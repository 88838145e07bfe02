// What a machine model prints: the design is fitted to this pixel size and tagged with its DPI
// (docs/architecture.md, "Walk-up orders"). A model not listed prints the default format.

export interface PrintFormat {
  width: number;
  height: number;
  dpi: number;
}

/** A phone case back, 75 × 160 mm at 300 DPI. */
export const DEFAULT_PRINT_FORMAT: PrintFormat = { width: 886, height: 1890, dpi: 300 };

const FORMATS: Record<string, PrintFormat> = {
  'case-printer-s': { width: 827, height: 1772, dpi: 300 },
  'case-printer-l': { width: 945, height: 2008, dpi: 300 },
};

export function printFormatOf(model: string | null): PrintFormat {
  return (model !== null && Object.hasOwn(FORMATS, model) ? FORMATS[model] : undefined) ?? DEFAULT_PRINT_FORMAT;
}
