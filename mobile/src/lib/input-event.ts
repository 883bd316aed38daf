/** The value of a uni `input`/`confirm` event (`detail.value`); vue-tsc types these as DOM Events. */
export function eventValue(event: unknown): string | undefined {
  const value = (event as { detail?: { value?: unknown } } | undefined)?.detail?.value;
  return typeof value === 'string' ? value : undefined;
}
