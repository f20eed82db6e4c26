import { Migration } from '@mikro-orm/migrations';

/**
 * Two-character search terms (issue 12). A trigram index cannot serve a term shorter than three
 * characters, and two characters are a whole word in Chinese ("打印", print): such a search was a
 * sequential filter over every ticket and reply (336 ms of PostgreSQL CPU per request on 20,000
 * tickets and 100,000 replies, docs/finding.md).
 *
 * `search_bigrams(text)` is the set of two-character substrings of the lower-cased text that hold
 * a character outside ASCII (more bytes than characters in UTF-8). English bigrams are left out:
 * they would make the index large and are too common to narrow anything ("th"); a two-character
 * ASCII term stays a sequential filter. GIN indexes on the function serve
 * `search_bigrams(content) @> search_bigrams(term)`, a necessary condition of `content ILIKE
 * '%term%'` (PostgreSQL's ILIKE compares the lower-cased texts), which stays in the statement as
 * the exact test. The replies' index is partial like the trigram one: deleted replies are never
 * searched.
 */
export class Migration20261207000000_search_bigrams extends Migration {
  override async up(): Promise<void> {
    // A text of ASCII only (most English text) has no such pair: answered without looking at
    // its characters, so writing English text costs the index next to nothing. The pairs come
    // from one pass over the characters (split once, each joined to the next by `lead`), linear
    // in the text: `substr(text, i, 2)` for every i would walk the multi-byte text from its start
    // each time, quadratic (a 65,536-character ticket took 96 s of PostgreSQL CPU that way;
    // test/finding/search-edges.test.ts files one at the length limit).
    this.addSql(`create function search_bigrams(text) returns text[] language sql immutable strict parallel safe as '
      select case when octet_length($1) = char_length($1) then ''{}''::text[] else (
        select coalesce(array_agg(distinct b), ''{}'')
        from (select ch || lead(ch) over (order by i) as b
              from unnest(regexp_split_to_array(lower($1), '''')) with ordinality as c(ch, i)) s
        where octet_length(b) > char_length(b)) end'`);
    this.addSql('create index tickets_content_bigram_idx on tickets using gin (search_bigrams(content))');
    this.addSql('create index replies_content_bigram_idx on replies using gin (search_bigrams(content)) where deleted_at is null');
  }

  override async down(): Promise<void> {
    this.addSql('drop index replies_content_bigram_idx');
    this.addSql('drop index tickets_content_bigram_idx');
    this.addSql('drop function search_bigrams(text)');
  }
}
