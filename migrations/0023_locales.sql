-- Languages (issue 16). An app's default_locale is the language of its pages when neither ui_locales
-- nor Accept-Language names a supported one (NULL: English); text_overrides replaces catalog messages
-- for that app: {"de": {"login.heading": "Willkommen"}}, validated by the domain (text-overrides.ts).
-- A user's locale is the language they last used on a hosted page (register, sign-in): their emails
-- go out in it. NULL: not known (English).
ALTER TABLE apps ADD COLUMN default_locale text;
ALTER TABLE apps ADD COLUMN text_overrides jsonb NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN locale text;
