-- The schema registry's own role and database, as `infra up` creates them (deploy/local/src/drivers/postgres.ts,
-- POSTGRES.registry_* in deploy/local/src/components.ts): it owns its database and nothing else, and is no superuser.
-- The password is the local development one: a deployment changes it (ALTER ROLE apicurio PASSWORD ...).
CREATE ROLE apicurio WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'apicurio';
CREATE DATABASE apicurio OWNER apicurio ENCODING 'UTF8';
