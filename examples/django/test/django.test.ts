/**
 * The Django example: its view publishes through the router's HTTP bridge with a signed request
 * (switchboard_bridge.py, standard library only), and a WAMP subscriber receives the message.
 * Django runs under its test client (Debian python3-django, /usr/bin/python3); the router listens
 * on an ephemeral port.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter, within } from '../../../router/test/helpers.js';
import { openPage } from '../../../client/test/browser-helpers.js';
import { freePort } from '../../../test/support/processes.js';
import { expectLines, readmeRun, runCommand } from '../../../test/support/examples.js';
import { requireSystem } from '../../../test/support/system.js';

const project = fileURLToPath(new URL('..', import.meta.url));

function python(args: string[], env: Record<string, string>): Promise<string> {
  return within(
    new Promise<string>((resolve, reject) => {
      execFile(requireSystem('python3-django'), args, { cwd: project, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
        err !== null ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      );
    }),
    20_000,
    `python3 ${args.join(' ')}`,
  );
}

describe('examples/django', () => {
  it('runs as its README says: the page shows the message it just posted, and a later page shows it from the history', { timeout: 60_000 }, async () => {
    const { command, expected, blocks } = readmeRun('django');
    expect(command).toBe('npm start -w examples/django');
    const djangoPort = await freePort();
    const run = runCommand(command, { SWITCHBOARD_PORT: '0', DJANGO_PORT: String(djangoPort) });
    await run.waitFor(/^Quit the server with CONTROL-C\.$/m, 30_000);
    expectLines(
      run.stdout(),
      expected.map((line) => line.replace(':8000/', `:${djangoPort}/`)),
    );

    const { browser, page, errors } = await openPage();
    const base = `http://127.0.0.1:${djangoPort}/`;
    await page.goto(base);
    await page.waitForFunction("document.querySelector('#status').textContent === 'live'", undefined, { timeout: 15_000 });
    await page.fill('input[name=author]', 'ada');
    await page.fill('input[name=text]', 'hello from Django');
    await page.click('#form button');
    await page.waitForFunction("document.querySelectorAll('#log li').length > 0", undefined, { timeout: 10_000 });
    expectLines((await page.$$eval('#log li', (items) => items.map((li) => li.textContent ?? ''))).join('\n'), blocks[1] ?? []);
    // The event and Django's answer to the POST race: the status says 'sent' once the answer is in.
    await page.waitForFunction("document.querySelector('#status').textContent !== 'live'", undefined, { timeout: 10_000 });
    expect(await page.textContent('#status')).toMatch(/^sent \(publication \d+\)$/);

    // A page opened afterwards: the message from the router's event history.
    const later = await browser.newPage();
    later.on('pageerror', (err) => errors.push(`later: ${err.message}`));
    await later.goto(base);
    await later.waitForFunction("document.querySelector('#status').textContent === 'live'", undefined, { timeout: 15_000 });
    expect(await later.$$eval('#log li', (items) => items.map((li) => li.textContent ?? ''))).toEqual(blocks[1]);
    expect(errors, errors.join('\n')).toEqual([]);
  });

  it('a posted form is published through the bridge (signed) and a WAMP subscriber gets it', async () => {
    const router = await startTestRouter({
      realms: [
        {
          name: 'realm1',
          roles: [
            { name: 'anonymous', permissions: [{ uri: 'com.example.chat', allow: { subscribe: true } }] },
            { name: 'backend', permissions: [{ uri: 'com.example.chat', allow: { publish: true } }] },
          ],
        },
      ],
      listeners: [
        {
          type: 'websocket',
          http: {
            paths: {
              '/publish': {
                type: 'publisher',
                realm: 'realm1',
                role: 'backend',
                authid: 'django',
                options: { key: 'django', secret: 'test-secret', timestamp_delta_limit: 60 },
                requireIncreasingSeq: true,
              },
            },
          },
        },
      ],
    });
    const port = router.addresses[0]!.port;
    const sub = await RawPeer.join(router.url);
    sub.send([MessageCode.Subscribe, sub.nextRequest(), {}, 'com.example.chat']);
    expect((await sub.next())[0]).toBe(MessageCode.Subscribed);

    const out = await python(['test/django_client.py', 'hello from Django', 'ada'], {
      SWITCHBOARD_PUBLISH_URL: `http://127.0.0.1:${port}/publish`,
      SWITCHBOARD_WS_URL: router.url,
      SWITCHBOARD_KEY: 'django',
      SWITCHBOARD_SECRET: 'test-secret',
    });
    const result = JSON.parse(out) as {
      page: { status: number; html: string };
      post: { status: number; body: { publication: number } };
      form: { status: number; location: string };
    };
    expect(result.page.status).toBe(200);
    // The page subscribes in the browser through @switchboard/client, at the router's WebSocket URL.
    expect(result.page.html).toContain(`url: '${router.url}'`);
    expect(result.page.html).toContain("import { connect } from '/switchboard.js'");
    expect(result.post.status).toBe(200);
    const event = await sub.next();
    expect(event[0]).toBe(MessageCode.Event);
    expect(event[2]).toBe(result.post.body.publication);
    expect(event[4]).toEqual(['hello from Django']);
    expect(event[5]).toEqual({ author: 'ada' });
    // The plain form post redirects back to the page; its message arrives too.
    expect(result.form.status).toBe(302);
    const second = await sub.next();
    expect(second[4]).toEqual(['hello from Django (form)']);
  });

  it('with the wrong secret the bridge refuses (401) and the view answers 502', async () => {
    const router = await startTestRouter({
      listeners: [
        {
          type: 'websocket',
          http: { paths: { '/publish': { type: 'publisher', realm: 'realm1', role: 'anonymous', options: { key: 'django', secret: 'right' } } } },
        },
      ],
    });
    const out = await python(['test/django_client.py', 'x', 'y'], {
      SWITCHBOARD_PUBLISH_URL: `http://127.0.0.1:${router.addresses[0]!.port}/publish`,
      SWITCHBOARD_KEY: 'django',
      SWITCHBOARD_SECRET: 'wrong',
    });
    const result = JSON.parse(out) as { post: { status: number; body: { error: string } } };
    expect(result.post.status).toBe(502);
    expect(result.post.body.error).toMatch(/^401/);
  });

  it('the Python helper signs exactly like the router', async () => {
    const out = await python(
      [
        '-c',
        'from switchboard_bridge import sign; print(sign("secret123", "foobar", "2026-01-14T16:59:51.123Z", 1, 10, b\'{"topic": "com.myapp.topic1", "args": ["Hello, world"]}\'))',
      ],
      {},
    );
    const { computeSignature } = await import('../../../router/src/http/bridge/signature.js');
    expect(out.trim()).toBe(
      computeSignature('secret123', {
        key: 'foobar',
        timestamp: '2026-01-14T16:59:51.123Z',
        seq: '1',
        nonce: '10',
        body: '{"topic": "com.myapp.topic1", "args": ["Hello, world"]}',
      }),
    );
  });
});
