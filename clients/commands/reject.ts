// edgeship reject <id> --by <name> --reason <text> [--update]
import type { Command } from 'commander';
import { decisionCommand } from '../decision';

export const rejectCommand = (): Command => decisionCommand('reject');
