-- The PKS-like schema every lab host starts with, in the database "pks".
CREATE TABLE subscribers (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username     text NOT NULL UNIQUE,
    domain       text NOT NULL,
    display_name text,
    enabled      boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE trunks (
    id        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name      text NOT NULL UNIQUE,
    gateway   inet NOT NULL,
    port      integer NOT NULL DEFAULT 5060,
    transport text NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp', 'tls')),
    enabled   boolean NOT NULL DEFAULT true
);

-- Which host's data this is: the rows below differ between the hosts, so a test can tell
-- whose data a database holds (for instance that a rolled-back secondary has its own again).
CREATE TABLE lab_origin (
    host      text PRIMARY KEY,
    seeded_at timestamptz NOT NULL DEFAULT now()
);
