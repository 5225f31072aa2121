// A real OpenID Connect provider for pandamon's login test: panva's oidc-provider (the
// certified Node.js implementation) with its development login form, where any login and
// password sign in as that login. One confidential client, `pandamon`, registered with the
// callback PANDAMON_CALLBACK. Prints `issuer <url>` once it listens.
import Provider from 'oidc-provider';

const callback = process.env.PANDAMON_CALLBACK;
if (!callback) {
  console.error('set PANDAMON_CALLBACK to pandamon\'s /login/callback/ url');
  process.exit(2);
}
const port = Number(process.env.OIDC_PORT || 0);

const server = (await import('node:http')).createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'pandamon',
    client_secret: process.env.OIDC_CLIENT_SECRET || 'pandamon-test-secret',
    redirect_uris: [callback],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email'],
  },
  // The login typed in the development form is the account: its claims say so.
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          preferred_username: id,
          name: `${id} (test)`,
          email: `${id.replace(/[^A-Za-z0-9.]/g, '.')}@example.org`,
        };
      },
    };
  },
  pkce: { required: () => true },
  cookies: { keys: ['pandamon-login-test'] },
});
provider.on('server_error', (_ctx, err) => console.error('provider error', err));

server.on('request', provider.callback());
console.log(`issuer ${issuer}`);
