import { formatUserChange, parseUserChange, type UserChange } from './user-change';

const SESSION = '0b7e5f1c-2a3d-4e5f-8a9b-0c1d2e3f4a5b';

describe('user change notes', () => {
  it.each<UserChange>([
    { kind: 'user', userId: 1 },
    { kind: 'password', userId: 2_147_483_647 },
    { kind: 'session', userId: 42, sessionId: SESSION },
  ])('%p survives the wire', (change) => {
    expect(parseUserChange(formatUserChange(change))).toEqual(change);
  });

  it.each([
    ['empty', ''],
    ['unknown kind', 'role:1'],
    ['user id 0', 'user:0'],
    ['negative id', 'user:-1'],
    ['leading zero', 'user:01'],
    ['id too long', 'user:12345678901'],
    ['session without an id', 'session:1'],
    ['user with a session id', `user:1:${SESSION}`],
    ['session id malformed', 'session:1:not-a-uuid-at-all-but-long-enough-xx'],
    ['trailing text', 'user:1 '],
    ['a ticket note', `5:${SESSION}`],
  ])('rejects %s', (_what, payload) => {
    expect(parseUserChange(payload)).toBeUndefined();
  });
});
