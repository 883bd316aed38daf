import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('configuration from the environment', () => {
  it('has working defaults for the embedded setup', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8443,
      host: '0.0.0.0',
      plainHttp: false,
      devLogin: true,
      jwtAlgorithm: 'HS256',
      heartbeatIntervalMs: 30_000,
      perMessageDeflate: false,
      writeCoalesceMs: 1,
      maxPayloadBytes: 65_536,
      sendBufferLimitBytes: 1_048_576,
      allowedOrigins: [],
    });
    expect(config.redisUrl).toBeUndefined();
  });

  it('reads the fixed variable names', () => {
    const config = loadConfig({
      PORT: '443',
      HOST: '::',
      TLS_CERT: '/etc/letsencrypt/live/chat.example.com/fullchain.pem',
      TLS_KEY: '/etc/letsencrypt/live/chat.example.com/privkey.pem',
      JWT_SECRET: 'k'.repeat(32),
      DEV_LOGIN: 'false',
      HEARTBEAT_INTERVAL_MS: '15000',
      REDIS_URL: 'redis://10.0.0.5:6379/0',
      PER_MESSAGE_DEFLATE: 'on',
      ALLOWED_ORIGINS: 'https://chat.example.com, https://servicewechat.com/wx1234567890abcdef',
    });
    expect(config).toMatchObject({
      port: 443,
      host: '::',
      heartbeatIntervalMs: 15_000,
      redisUrl: 'redis://10.0.0.5:6379/0',
      perMessageDeflate: true,
      allowedOrigins: ['https://chat.example.com', 'https://servicewechat.com/wx1234567890abcdef'],
    });
  });

  it('refuses the development login beside a real certificate unless told twice', () => {
    const production = { TLS_CERT: '/etc/letsencrypt/live/chat.example.com/fullchain.pem', TLS_KEY: '/etc/letsencrypt/live/chat.example.com/privkey.pem' };
    expect(() => loadConfig(production)).toThrow(/^DEV_LOGIN: .*DEV_LOGIN_WITH_REAL_CERT/);
    expect(loadConfig({ ...production, DEV_LOGIN: 'false' }).devLogin).toBe(false);
    expect(loadConfig({ ...production, DEV_LOGIN_WITH_REAL_CERT: 'true' }).devLogin).toBe(true);
  });

  it('pins RS256 with a public key and turns the dev login off only when told', () => {
    expect(() => loadConfig({ JWT_PUBLIC_KEY: '/keys/issuer.pem' })).toThrow(/DEV_LOGIN/);
    const config = loadConfig({ JWT_PUBLIC_KEY: '/keys/issuer.pem', DEV_LOGIN: 'false', JWT_ISSUER: 'https://id.example.com' });
    expect(config).toMatchObject({ jwtAlgorithm: 'RS256', devLogin: false, jwtIssuer: 'https://id.example.com' });
    expect(() => loadConfig({ JWT_PUBLIC_KEY: '/k.pem', JWT_ALGORITHM: 'HS256', DEV_LOGIN: 'false' })).toThrow(/JWT_ALGORITHM/);
    expect(() => loadConfig({ JWT_ALGORITHM: 'none' })).toThrow(/JWT_ALGORITHM/);
  });

  it.each([
    ['PORT', '70000'],
    ['PORT', '80a'],
    ['HEARTBEAT_INTERVAL_MS', '10'],
    ['MAX_PAYLOAD_BYTES', '12'],
    ['WRITE_COALESCE_MS', '500'],
    ['DEV_LOGIN', 'perhaps'],
    ['LOG_LEVEL', 'loud'],
    ['ALLOWED_ORIGINS', 'chat.example.com'],
    ['REDIS_URL', 'http://redis'],
  ])('a bad %s (%s) names the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
    expect((error as Error).message).toContain(name);
  });
});
