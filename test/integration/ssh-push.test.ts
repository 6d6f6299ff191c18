// pushArtifact against real OpenSSH sshd processes (simulated devices), and the simulated
// device's restart command against the real edge runtime.
import { describeSshPush } from '../helpers/sshPushCases';

describeSshPush('openssh');
