import type { Command } from 'commander';

/** Registers `dbrouter cluster`. (Not built yet.) */
export function register(_program: Command): void {}
