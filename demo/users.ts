import { scryptSync, timingSafeEqual } from 'node:crypto';

// The demo's user table. Only scrypt hashes are kept, never passwords:
// alice / wonderland and bob / builder. Format: salt.hash (base64url).
const users: Record<string, { name: string; password: string }> = {
  alice: { name: 'Alice', password: 'db8HRx9R7-Ny4uwUC6rFkg.ztpTaeL-m2d6VT4PJ1cjZ_sbeeWWM2l26plSXOZqVKw' },
  bob: { name: 'Bob', password: '0qS8BF-s5zbqbGf3tuLowA.LBSXvIRVzyVndasUb0J_JwbRnkk6NcTMOf_fICttjbY' },
};

// Hashed for unknown names too, so a wrong name takes as long as a wrong password.
const nobody = { name: '', password: 'AAAAAAAAAAAAAAAAAAAAAA.' + 'A'.repeat(43) };

/** The user's display name when the password is right, else null. */
export function authenticate(username: string, password: string): string | null {
  const user = Object.hasOwn(users, username) ? users[username]! : nobody;
  const [salt, hash] = user.password.split('.') as [string, string];
  const expected = Buffer.from(hash, 'base64url');
  const actual = scryptSync(password, salt, expected.length);
  return timingSafeEqual(actual, expected) && user !== nobody ? user.name : null;
}

/** The display name of a logged-in user. */
export function displayName(username: string): string {
  return Object.hasOwn(users, username) ? users[username]!.name : username;
}
