// Django's development server for the example: finds a python3 that has Django, then runs
// `manage.py runserver --noreload 127.0.0.1:PORT` (DJANGO_PORT, default 8000) with its output
// unbuffered. `npm start -w examples/django` runs it under with-router.mjs, which sets WAMP_URL to
// the router it started; chatsite/settings.py takes the WebSocket and bridge URLs from it.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
// PYTHON first; then the PATH's python3, then Debian's (a pyenv or venv python3 may lack Django).
const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((p) => p !== undefined && p !== '');
const python = candidates.find((p) => spawnSync(p, ['-c', 'import django'], { stdio: 'ignore' }).status === 0);
if (python === undefined) {
  console.error(
    `Django is not installed for ${candidates.join(' or ')}: apt-get install python3-django, or pip install django (PYTHON=/path/to/python picks the interpreter)`,
  );
  process.exit(1);
}
const port = process.env.DJANGO_PORT || '8000';
const child = spawn(python, ['manage.py', 'runserver', '--noreload', `127.0.0.1:${port}`], {
  cwd: here,
  stdio: 'inherit',
  env: { ...process.env, PYTHONUNBUFFERED: '1' },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.once('exit', (code, signal) => process.exit(code ?? (signal !== null ? 0 : 1)));
