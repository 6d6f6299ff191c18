// pushArtifact against the embedded ssh2 SSH/SFTP server that simulated devices use where no
// sshd is installed, plus what only that server has to guarantee (confinement, no shell).
import { describeSshPush } from '../helpers/sshPushCases';

describeSshPush('embedded');
