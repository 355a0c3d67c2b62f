-- The medallion layers: bronze (raw, append-only), silver (cleaned facts and
-- dimensions), gold (KPIs), and app (the web app's own state).
create schema if not exists bronze;
create schema if not exists silver;
create schema if not exists gold;
create schema if not exists app;

comment on schema bronze is 'Raw records as the collectors received them; append-only.';
comment on schema silver is 'Cleaned facts and dimensions built from bronze by the pipeline.';
comment on schema gold is 'KPI tables for pages, Metabase and Grafana; one row per reported grain.';
comment on schema app is 'Guildhall''s own state: users, sessions, settings, pipeline state.';
