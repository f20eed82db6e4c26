import Fastify from 'fastify';
import { loggerOptions } from './logging';

describe('log redaction of sign-in secrets (issue 11)', () => {
  it('never writes a token or a password field, wherever it sits', async () => {
    const lines: string[] = [];
    const server = Fastify({ logger: loggerOptions('trace', { write: (line: string) => void lines.push(line) }) });
    const token = 'hd1_SECRETtokenSECRETtokenSECRETtokenSECRET12';
    server.log.info({ token, newPassword: 'new secret 1', currentPassword: 'old secret 2' }, 'top level');
    server.log.info({ variables: { password: 'login secret 3', u: 'alice' } }, 'graphql variables');
    server.log.info({ payload: { connectionParams: { token } } }, 'socket');
    server.log.info({ body: { variables: { newPassword: 'new secret 4' } } }, 'nested');
    server.log.info({ session: { token } }, 'one level down');
    await server.close();
    const text = lines.join('\n');
    expect(lines).toHaveLength(5);
    for (const secret of [token, 'new secret 1', 'old secret 2', 'login secret 3', 'new secret 4']) expect(text).not.toContain(secret);
    expect(text).toContain('alice');
  });
});
