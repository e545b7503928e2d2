-- Rows of the secondary, pks2: its own data before it becomes a standby.
INSERT INTO lab_origin (host) VALUES ('pks2');
INSERT INTO subscribers (username, domain, display_name) VALUES
    ('alice', 'sip.pks.lab', 'Alice Archer (old)'),
    ('dave', 'sip.pks.lab', 'Dave Dalton'),
    ('only-on-pks2', 'sip.pks.lab', 'Exists only on pks2');
INSERT INTO trunks (name, gateway, port, transport, enabled) VALUES
    ('carrier-a', '192.0.2.10', 5060, 'udp', false),
    ('carrier-c', '198.51.100.7', 5060, 'tcp', true);
