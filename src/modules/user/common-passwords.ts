/**
 * Passwords of 8 or more characters that top the public breach lists (RockYou, the "10 million
 * passwords" top lists and their usual variants). Shorter ones are refused by length already.
 * The first guesses of any online attack; a new account may not use them. Lower case: compared
 * case-insensitively.
 */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set([
  'password', 'password1', 'password12', 'password123', 'password!', 'passw0rd', 'p@ssw0rd', 'p@ssword', 'pa55word',
  '12345678', '123456789', '1234567890', '0987654321', '987654321', '87654321', '12341234', '12344321', '1234512345',
  '11111111', '00000000', '22222222', '55555555', '66666666', '88888888', '999999999', '11223344', '123123123',
  '147258369', '741852963', '159753123', '123654789',
  'qwertyuiop', 'qwertyui', 'qwerty12', 'qwerty123', 'qwerty1234', 'asdfghjkl', 'asdfasdf', 'zxcvbnm1', 'abcdefgh',
  '1q2w3e4r', '1q2w3e4r5t', 'q1w2e3r4', 'q1w2e3r4t5', '1qaz2wsx', 'zaq12wsx', '12qwaszx', 'qazwsxedc', '123qweasd',
  '1234qwer', 'qwer1234', 'abcd1234', '1234abcd', 'abc12345', 'aa123456', 'a1234567', 'a12345678',
  'iloveyou', 'iloveyou1', 'sunshine', 'princess', 'princess1', 'football', 'football1', 'baseball', 'superman',
  'starwars', 'trustno1', 'jennifer', 'michelle', 'computer', 'internet', 'whatever', 'chocolate', 'butterfly',
  'liverpool', 'mercedes', 'corvette', 'samsung1', 'babygirl', 'babygirl1', 'lovely123', 'loveme123', 'charlie1',
  'jordan23', 'michael1', 'jessica1', 'ashley123', 'dragon123', 'monkey123', 'shadow123', 'master123',
  'welcome1', 'welcome123', 'letmein1', 'letmein123', 'changeme', 'changeme1', 'administrator', 'admin123',
  'admin1234', 'root1234', 'superadmin', 'helpdesk', 'helpdesk1', 'support1',
]);
