import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCodecError } from '../../shared/errors.ts';
import { formatPath, parsePath, pathLevel, pathStartsWith } from '../../shared/lwm2m/path.ts';

describe('LwM2M paths', () => {
  it('parses every level, with or without the outer slashes', () => {
    assert.deepEqual(parsePath('/'), {});
    assert.deepEqual(parsePath(''), {});
    assert.deepEqual(parsePath('/3'), { objectId: 3 });
    assert.deepEqual(parsePath('0/1'), { objectId: 0, instanceId: 1 });
    assert.deepEqual(parsePath('/0/1/'), { objectId: 0, instanceId: 1 });
    assert.deepEqual(parsePath('/0/1/16/2'), { objectId: 0, instanceId: 1, resourceId: 16, resourceInstanceId: 2 });
    assert.equal(pathLevel(parsePath('/0/1/16/2')), 'resourceInstance');
    assert.equal(formatPath(parsePath('0/1/')), '/0/1');
    assert.equal(formatPath({}), '/');
  });

  it('refuses empty segments, signs, leading zeros, the reserved id 65535 and a fifth level', () => {
    for (const text of ['//', '/0//1', '/-1', '/01', '/+1', '/65535', '/0/65535', '/1/2/3/4/5', '/a', '/1.0']) {
      assert.throws(() => parsePath(text), (error) => isCodecError(error) && error.code === 'INVALID_PATH', text);
    }
    assert.deepEqual(parsePath('/65534'), { objectId: 65534 });
  });

  it('knows which paths lie under which', () => {
    assert.ok(pathStartsWith(parsePath('/0/1/5'), parsePath('/0')));
    assert.ok(pathStartsWith(parsePath('/0/1'), parsePath('/')));
    assert.ok(!pathStartsWith(parsePath('/0'), parsePath('/0/1')));
    assert.ok(!pathStartsWith(parsePath('/1/0'), parsePath('/0')));
  });
});
