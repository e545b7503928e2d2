-- Rows of the primary, pks1.
INSERT INTO lab_origin (host) VALUES ('pks1');
INSERT INTO subscribers (username, domain, display_name) VALUES
    ('alice', 'sip.pks.lab', 'Alice Archer'),
    ('bob', 'sip.pks.lab', 'Bob Baker'),
    ('carol', 'sip.pks.lab', 'Carol Cooper'),
    ('only-on-pks1', 'sip.pks.lab', 'Exists only on pks1');
INSERT INTO trunks (name, gateway, port, transport) VALUES
    ('carrier-a', '192.0.2.10', 5060, 'udp'),
    ('carrier-b', '192.0.2.20', 5061, 'tls');
