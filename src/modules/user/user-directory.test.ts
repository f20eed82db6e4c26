import { Role } from './role';
import { canBrowseDirectory, canSeeDetailsOf, decodeUserCursor, encodeUserCursor, likePattern, normalizeSearch } from './user-directory';
import type { Viewer } from './viewer';

const viewer = (roles: Role[], isAdmin = false, id = 7): Viewer => ({ id, username: 'v', roles, isAdmin });

describe('who browses the directory', () => {
  it.each([
    [[Role.CUSTOMER], false, false],
    [[Role.STAFF], false, false],
    [[Role.CUSTOMER, Role.STAFF], false, false],
    [[Role.SCHEDULER], false, true],
    [[Role.CUSTOMER], true, true],
    [[Role.CUSTOMER, Role.STAFF, Role.SCHEDULER], true, true],
  ])('roles %p, admin %p → %p', (roles, isAdmin, expected) => {
    expect(canBrowseDirectory(viewer(roles, isAdmin))).toBe(expected);
    expect(canSeeDetailsOf(viewer(roles, isAdmin), 8)).toBe(expected);
    expect(canSeeDetailsOf(viewer(roles, isAdmin), 7)).toBe(true);
  });
});

describe('search', () => {
  it.each([
    ['staff', '%staff%'],
    ['50%', '%50\\%%'],
    ['a_b', '%a\\_b%'],
    ['back\\slash', '%back\\\\slash%'],
  ])('%p matches literally as %p', (term, pattern) => {
    expect(likePattern(term)).toBe(pattern);
  });

  it('trims, treats blank as no search, refuses over 64 characters', () => {
    expect(normalizeSearch('  ann ')).toBe('ann');
    expect(normalizeSearch('   ')).toBeUndefined();
    expect(normalizeSearch(null)).toBeUndefined();
    expect(normalizeSearch('x'.repeat(64))).toHaveLength(64);
    expect(() => normalizeSearch('x'.repeat(65))).toThrow(/search must be at most 64/);
  });
});

describe('user cursors', () => {
  it.each([['alice'], ['new.person@example'], ['A-1_b']])('%p round-trips', (username) => {
    expect(decodeUserCursor(encodeUserCursor(username), 'after')).toBe(username);
  });

  it.each([
    ['garbage'],
    [Buffer.from('ticket:alice').toString('base64url')],
    [Buffer.from("user:' or 1=1").toString('base64url')],
    [''],
    [encodeUserCursor('x'.repeat(65))],
  ])('refuses %p', (cursor) => {
    expect(() => decodeUserCursor(cursor, 'after')).toThrow(/after is not a cursor this API returned/);
  });
});
