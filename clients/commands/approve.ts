// edgeship approve <id> --by <name> [--comment <text>] [--update]
import type { Command } from 'commander';
import { decisionCommand } from '../decision';

export const approveCommand = (): Command => decisionCommand('approve');
