import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressKey, isAddressOrCidr, ProxyTrust } from './client-address.js';

describe('addressKey', () => {
  it('keeps IPv4 addresses and folds IPv4-mapped IPv6 into them', () => {
    assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('::FFFF:192.0.2.7'), '192.0.2.7');
  });

  it('groups IPv6 addresses by their /64, however they are written', () => {
    const key = addressKey('2001:db8:1:2::1');
    assert.equal(key, '2001:db8:1:2::/64');
    for (const same of ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002:0:0:0:9']) {
      assert.equal(addressKey(same), key, same);
    }
    assert.notEqual(addressKey('2001:db8:1:3::1'), key);
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
  });
});

describe('isAddressOrCidr', () => {
  it('accepts addresses and CIDRs of both families, nothing else', () => {
    for (const good of ['10.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '0.0.0.0/0', '::/0']) {
      assert.equal(isAddressOrCidr(good), true, good);
    }
    for (const bad of ['10.0.0.0/33', '::/129', 'proxy.lan', '10.0.0.0/8/8', '10.0.0.0/x', '']) {
      assert.equal(isAddressOrCidr(bad), false, bad);
    }
  });
});

describe('ProxyTrust', () => {
  const trust = new ProxyTrust(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);

  it('believes X-Forwarded-For only from a trusted peer', () => {
    assert.equal(trust.clientOf('192.0.2.1', '198.51.100.7'), '192.0.2.1');
    assert.equal(trust.clientOf('127.0.0.1', '198.51.100.7'), '198.51.100.7');
    assert.equal(trust.clientOf('::ffff:127.0.0.1', '198.51.100.7'), '198.51.100.7');
    assert.equal(trust.clientOf('127.0.0.1', undefined), '127.0.0.1');
    assert.equal(new ProxyTrust([]).clientOf('127.0.0.1', '198.51.100.7'), '127.0.0.1');
  });

  it('takes the rightmost untrusted hop, so a client cannot forge its address', () => {
    // The client wrote "1.2.3.4" itself; the proxy appended the address it saw.
    assert.equal(trust.clientOf('127.0.0.1', '1.2.3.4, 198.51.100.7'), '198.51.100.7');
    assert.equal(trust.clientOf('127.0.0.1', '198.51.100.7, 10.1.1.1'), '198.51.100.7');
    assert.equal(
      trust.clientOf('127.0.0.1', ['1.2.3.4', '198.51.100.7, 10.1.1.1']),
      '198.51.100.7',
    );
    assert.equal(trust.clientOf('127.0.0.1', '10.2.2.2, 10.1.1.1'), '10.2.2.2');
  });

  it('reads ports and brackets, and stops at a malformed hop', () => {
    assert.equal(trust.clientOf('127.0.0.1', '198.51.100.7:5000'), '198.51.100.7');
    assert.equal(trust.clientOf('127.0.0.1', '[2001:db8::1]:5000'), '2001:db8::1');
    assert.equal(trust.clientOf('127.0.0.1', 'unknown, 10.1.1.1'), '10.1.1.1');
    assert.equal(trust.clientOf('127.0.0.1', '<script>'), '127.0.0.1');
  });
});
