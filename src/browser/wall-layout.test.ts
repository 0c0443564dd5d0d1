import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitWall, MAX_PER_PAGE } from './wall-layout.js';

const WIDE = 16 / 9;
/** The tile area of a 1280x720 window under the dashboard's header. */
const HD = { width: 1280, height: 720 - 48, gap: 6 };
const FULL_HD = { width: 1920, height: 1080 - 48, gap: 6 };

describe('fitWall', () => {
  it('puts 16 cameras in 4 x 4 on a 1280x720 and a 1920x1080 window, nothing scrolling', () => {
    for (const size of [HD, FULL_HD]) {
      const layout = fitWall(16, size, WIDE);
      assert.equal(layout.mode, 'fit');
      assert.equal(layout.columns, 4);
      const rows = Math.ceil(16 / layout.columns);
      assert.ok(rows * layout.tileHeight + (rows + 1) * size.gap <= size.height, 'fits in height');
      assert.ok(4 * layout.tileWidth + 5 * size.gap <= size.width, 'fits in width');
      assert.equal(layout.pages, 1);
    }
  });

  it('chooses the columns that make tiles largest', () => {
    assert.equal(fitWall(1, HD, WIDE).columns, 1);
    assert.equal(fitWall(2, HD, WIDE).columns, 2);
    assert.equal(fitWall(4, HD, WIDE).columns, 2);
    // on a 16:9 window 2 + 1 beats 3 in a row
    assert.equal(fitWall(3, FULL_HD, WIDE).columns, 2);
    for (let count = 1; count <= MAX_PER_PAGE; count++) {
      const layout = fitWall(count, FULL_HD, WIDE);
      for (let columns = 1; columns <= count; columns++) {
        const rows = Math.ceil(count / columns);
        const other = Math.min(
          (FULL_HD.width - (columns + 1) * 6) / columns,
          ((FULL_HD.height - (rows + 1) * 6) / rows) * WIDE,
        );
        assert.ok(layout.tileWidth >= Math.floor(other), `${count} cameras, ${columns} columns`);
      }
    }
  });

  it('follows the aspect ratio: portrait cameras get more columns', () => {
    assert.ok(fitWall(6, HD, 9 / 16).columns > fitWall(6, HD, WIDE).columns);
  });

  it('splits more than 25 cameras into pages of equal size', () => {
    assert.deepEqual(
      [fitWall(25, HD, WIDE).pages, fitWall(26, HD, WIDE).pages, fitWall(32, HD, WIDE).pages],
      [1, 2, 2],
    );
    assert.equal(fitWall(32, HD, WIDE).perPage, 16);
    assert.equal(fitWall(32, HD, WIDE).columns, 4);
    assert.equal(fitWall(51, HD, WIDE).pages, 3);
  });

  it('stacks one or two scrolling columns on a phone, never wider than the screen', () => {
    const phone = fitWall(16, { width: 390, height: 844 - 48, gap: 6 }, WIDE);
    assert.equal(phone.mode, 'scroll');
    assert.equal(phone.columns, 1);
    assert.ok(phone.tileWidth + 2 * 6 <= 390);
    const small = fitWall(16, { width: 590, height: 900, gap: 6 }, WIDE);
    assert.equal(small.columns, 2);
    assert.ok(2 * small.tileWidth + 3 * 6 <= 590);
  });

  it('survives no cameras and tiny windows', () => {
    const layout = fitWall(0, { width: 700, height: 10, gap: 6 }, WIDE);
    assert.equal(layout.pages, 1);
    assert.ok(layout.tileWidth >= 1 && layout.tileHeight >= 1);
  });
});
