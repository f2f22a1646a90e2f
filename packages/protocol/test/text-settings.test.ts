import { describe, expect, it } from 'vitest';
import { sessionOptionsFor, TEXT_SESSION_OPTIONS } from '../src/index.js';

describe('session options', () => {
  it("keep the URL's own options (the seed's search_path) and add the text settings", () => {
    const url = 'postgres://u:p@h:5432/storx?sslmode=disable&options=--search_path%3D%22satellite%2F0%22';
    expect(sessionOptionsFor(url)).toBe(`--search_path="satellite/0" ${TEXT_SESSION_OPTIONS}`);
    expect(sessionOptionsFor('postgres://u@h/db')).toBe(TEXT_SESSION_OPTIONS);
    expect(sessionOptionsFor('host=h dbname=db')).toBe(TEXT_SESSION_OPTIONS);
  });
});
