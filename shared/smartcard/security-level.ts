/**
 * The security level the host asks for in EXTERNAL AUTHENTICATE P1 (Amendment D section 5.1.2):
 * which protections every later command and response in the session carries.
 */
import { Scp03Error } from './scp03-error.ts';

export const SECURITY_LEVEL = {
  NO_SECURE_MESSAGING: 0x00,
  C_MAC: 0x01,
  C_DECRYPTION: 0x02,
  R_MAC: 0x10,
  R_ENCRYPTION: 0x20,
} as const;

/**
 * The combinations Amendment D allows: decryption needs a MAC on the same command, response
 * encryption needs R-MAC and command decryption.
 */
export const VALID_SECURITY_LEVELS: readonly number[] = [0x00, 0x01, 0x03, 0x11, 0x13, 0x33];

export function checkSecurityLevel(level: number): number {
  if (!VALID_SECURITY_LEVELS.includes(level)) {
    throw new Scp03Error('SECURITY_LEVEL', `security level 0x${level.toString(16).padStart(2, '0')} is not one SCP03 defines`);
  }
  return level;
}

export function hasCommandMac(level: number): boolean {
  return (level & SECURITY_LEVEL.C_MAC) !== 0;
}
export function hasCommandEncryption(level: number): boolean {
  return (level & SECURITY_LEVEL.C_DECRYPTION) !== 0;
}
export function hasResponseMac(level: number): boolean {
  return (level & SECURITY_LEVEL.R_MAC) !== 0;
}
export function hasResponseEncryption(level: number): boolean {
  return (level & SECURITY_LEVEL.R_ENCRYPTION) !== 0;
}
