import { authorizationFromHeader, authorizationFromParams } from './authorization';

describe('authorizationFromHeader', () => {
  it.each([
    ['Credential abc', { scheme: 'credential', value: 'abc' }],
    ['credential abc', { scheme: 'credential', value: 'abc' }],
    ['  Credential   abc  ', { scheme: 'credential', value: 'abc' }],
    ['Bearer hd1_x', { scheme: 'bearer', value: 'hd1_x' }],
    ['bearer hd1_x', { scheme: 'bearer', value: 'hd1_x' }],
    ['BEARER hd1_x', { scheme: 'bearer', value: 'hd1_x' }],
  ])('%p → %p', (header, expected) => {
    expect(authorizationFromHeader(header)).toEqual(expected);
    expect(authorizationFromHeader([header, 'Bearer other'])).toEqual(expected);
  });

  it.each([[undefined], [''], ['Basic dXNlcjpwYXNz'], ['Bearer'], ['Bearer a b'], ['Credential'], ['Token abc'], [[]]])('%p → nothing', (header) => {
    expect(authorizationFromHeader(header as string | string[] | undefined)).toBeUndefined();
  });
});

describe('authorizationFromParams', () => {
  it.each([
    [{ token: 't' }, { scheme: 'bearer', value: 't' }],
    [{ credential: 'c' }, { scheme: 'credential', value: 'c' }],
    [
      { token: 't', credential: 'c' },
      { scheme: 'bearer', value: 't' },
    ],
    [
      { token: '', credential: 'c' },
      { scheme: 'credential', value: 'c' },
    ],
    [
      { token: 42, credential: 'c' },
      { scheme: 'credential', value: 'c' },
    ],
  ])('%p → %p', (params, expected) => {
    expect(authorizationFromParams(params)).toEqual(expected);
  });

  it.each([[undefined], [{}], [{ token: '' }], [{ credential: '' }], [{ token: null, credential: {} }], [{ password: 'x' }]])('%p → nothing', (params) => {
    expect(authorizationFromParams(params as Record<string, unknown> | undefined)).toBeUndefined();
  });
});
