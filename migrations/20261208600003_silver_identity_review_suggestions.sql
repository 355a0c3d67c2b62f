-- The identity editor's suggestions, kept by job identity_review: for each of the unowned
-- game accounts it reviews, the members it most likely is (alike names, hours together in
-- voice). Comparing 30 player names with every member's name took the editor 2.7-5.5 s per
-- request at 20,000 members; the job does it at most hourly, the editor reads the result.
-- Accounts and persons that go away take their rows with them (no name is stored here).
create table silver.identity_review_suggestions (
    kind text not null,
    external_id text not null,
    candidate_person bigint not null references silver.dim_user (person_id) on delete cascade,
    name_similarity double precision not null,
    together_hours integer not null,
    score double precision not null,
    primary key (kind, external_id, candidate_person),
    foreign key (kind, external_id) references silver.user_identities (kind, external_id) on delete cascade
);
create index identity_review_suggestions_candidate_idx on silver.identity_review_suggestions (candidate_person);

comment on table silver.identity_review_suggestions is 'The identity editor''s suggestions: for each account of silver.identity_review_accounts, up to three members it most likely is (names alike, or in voice together for at least three hours and half its play time). Job identity_review.';
comment on column silver.identity_review_suggestions.kind is 'steam or minecraft.';
comment on column silver.identity_review_suggestions.external_id is 'The unowned game account.';
comment on column silver.identity_review_suggestions.candidate_person is 'The member''s person it most likely belongs to.';
comment on column silver.identity_review_suggestions.name_similarity is 'How alike the player name and the member''s name are, 0 to 1 (silver.name_similarity).';
comment on column silver.identity_review_suggestions.together_hours is 'Clock hours the member was in non-AFK voice while the account played.';
comment on column silver.identity_review_suggestions.score is '0.6 × name similarity + 0.4 × the share of the account''s hours the member was in voice (at most 1).';

-- A name as compared: lower case, letters and digits only (`xX_Mira_99` -> `xxmira99`).
create function silver.comparable_name(p_name text) returns text
language sql
immutable
as $$
    select lower(regexp_replace(coalesce(p_name, ''), '[^[:alnum:]]', '', 'g'))
$$;

-- A comparable name's trigrams as pg_trgm pads it (two spaces before, one after), sorted
-- and without repeats.
create function silver.name_trigrams(p_text text) returns text[]
language sql
immutable
as $$
    select coalesce(array_agg(distinct substr(padded, i, 3) order by substr(padded, i, 3)), '{}')
    from (select '  ' || p_text || ' ' as padded) p
    cross join generate_series(1, char_length(padded) - 2) i
$$;

-- How alike two comparable names are, 0 to 1, from their trigram counts and how many they
-- share: the larger of the trigram overlap (shared / all, as pg_trgm counts it) and, when
-- the shorter (3 characters or more) is contained in the longer, one half plus half the
-- share of the longer it covers. Job identity_review counts the shared trigrams of all
-- pairs at once, by a join, and calls this for the pairs that share any.
create function silver.trigram_name_similarity(a text, a_trigrams integer, b text, b_trigrams integer, shared bigint)
returns double precision
language sql
immutable
as $$
    select case
        when char_length(a) < 2 or char_length(b) < 2 then 0::double precision
        else greatest(
            shared::double precision / (a_trigrams + b_trigrams - shared),
            case
                when octet_length(a) <= octet_length(b) then
                    case when char_length(a) >= 3 and strpos(b, a) > 0
                         then 0.5 + 0.5 * char_length(a)::double precision / char_length(b)
                         else 0 end
                else
                    case when char_length(b) >= 3 and strpos(a, b) > 0
                         then 0.5 + 0.5 * char_length(b)::double precision / char_length(a)
                         else 0 end
            end)
    end
$$;

-- How alike a game name and a member name are, 0 to 1. Digits count (`Mira2` is not
-- `Mira5`), but a match without the digits at the ends still counts for 70 % (`mira_99` is
-- probably `Mira`). Job identity_review computes the same for many pairs at once.
create function silver.name_similarity(a text, b text) returns double precision
language sql
immutable
as $$
    select greatest(
        silver.trigram_name_similarity(fa, cardinality(silver.name_trigrams(fa)),
                                       fb, cardinality(silver.name_trigrams(fb)),
                                       (select count(*) from unnest(silver.name_trigrams(fa)) g
                                        where g = any (silver.name_trigrams(fb)))),
        0.7 * silver.trigram_name_similarity(ba, cardinality(silver.name_trigrams(ba)),
                                             bb, cardinality(silver.name_trigrams(bb)),
                                             (select count(*) from unnest(silver.name_trigrams(ba)) g
                                              where g = any (silver.name_trigrams(bb)))))
    from (select silver.comparable_name(a) as fa, silver.comparable_name(b) as fb) f
    cross join lateral (select btrim(fa, '0123456789') as ba, btrim(fb, '0123456789') as bb) t
$$;
