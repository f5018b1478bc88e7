import type { Command } from 'commander';

/** Registers `dbrouter explain`. (Not built yet.) */
export function register(_program: Command): void {}
