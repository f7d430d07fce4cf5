"""A second set of blind held-out templates for bench/pii_set.py.

These were written from the placeholder list alone, without looking at the recognizers or at the
other template sets. They are used to validate recognizer changes made after studying the misses
on the first blind set, so that those changes are measured on text they were not tuned on.
"""

BLIND2_TEMPLATES = (
    # --- customer-support chat turns ---
    "Customer: hi, my name is {person_lower} and i cant log in since the update\n"
    "Agent: Sorry to hear that! Can you confirm the email on the account?\n"
    "Customer: its {EMAIL_ADDRESS}",
    "Agent: Thanks for waiting, {PERSON}. I've reset the password and sent a link to "
    "{EMAIL_ADDRESS}. Anything else I can help with today?",
    "user: hello?? been on hold 40 min. order 55812 never arrived. "
    "shipping addr was {ADDRESS}, {LOCATION}\n"
    "bot: I'm sorry about the delay. I'm connecting you to a human agent now.",
    "Hi, I spoke to {PERSON} yesterday and she said a refund would be issued within 5 days "
    "but I still see nothing. Can someone check? You can call me back on {PHONE_NUMBER}.",
    "hey so my husband {person_lower} set up the account but he's away, can i change the card "
    "on file? new one is {CREDIT_CARD}",
    "Agent (chat): For security I can't read out the full number, but I can confirm the card "
    "ending in the last four of {CREDIT_CARD} is the one linked to {PERSON}'s subscription.",
    "[10:42] customer: pls send invoice to accounts@ our domain, actually just use "
    "{EMAIL_ADDRESS}\n[10:43] agent: Done! It should arrive shortly.",
    # --- emails ---
    "Dear {PERSON},\n\nThank you for your application for the Operations Analyst role. "
    "We would like to invite you to an interview at our office at {ADDRESS}, {LOCATION}.\n\n"
    "Kind regards,\nTalent Acquisition Team",
    "Hi team,\n\nQuick heads-up that {PERSON} will be covering my accounts while I'm on leave. "
    "Reach them at {EMAIL_ADDRESS} or {PHONE_NUMBER}.\n\nCheers",
    "---------- Forwarded message ---------\nFrom: {PERSON} <{EMAIL_ADDRESS}>\n"
    "Subject: Re: contract renewal\nTo: {EMAIL_ADDRESS}\n\n"
    "See below, can you take this one?",
    "Hello,\n\nPlease update the beneficiary details for our supplier payment. "
    "The new IBAN is {IBAN_CODE} and the account holder is {PERSON}.\n\nBest,\n{PERSON}\n"
    "Finance Manager | {PHONE_NUMBER}",
    "Thanks {PERSON}! Really appreciate you jumping on that call so late. "
    "I'll loop in {PERSON} from legal tomorrow morning.\n\nSent from my phone",
    "Good afternoon,\n\nI am writing on behalf of my mother, {PERSON}, who has been unable to "
    "access her pension statements. Her registered address is {ADDRESS}, {LOCATION}.\n\n"
    "Yours faithfully,\n{PERSON}",
    "--\n{PERSON}\nSenior Account Executive\nM: {PHONE_NUMBER}\nE: {EMAIL_ADDRESS}\n"
    "{ADDRESS}, {LOCATION}",
    "Hi {PERSON},\n\nJust confirming your booking for two nights. Your room will be held on the "
    "card provided ({CREDIT_CARD}). Check-in is from 3pm.\n\nWarm wishes,\nFront Desk",
    # --- CRM notes ---
    "CRM note: Called {PERSON} re: overdue balance. Promised payment by Friday. "
    "Prefers contact by email ({EMAIL_ADDRESS}) rather than phone.",
    "Lead owner changed from {PERSON} to {PERSON}. Prospect is based in {LOCATION}, "
    "interested in the enterprise tier.",
    "Account flagged: login attempts from {IP_ADDRESS} did not match the usual region for "
    "{person_lower}. Ticket escalated to fraud.",
    "Spoke w/ {PERSON}'s assistant, meeting moved to thurs. "
    "Direct line {PHONE_NUMBER}, do not call the main switchboard.",
    # --- form answers ---
    "Full name: {PERSON}\nDate of birth: see attached\nSocial Security Number: {US_SSN}\n"
    "Home address: {ADDRESS}\nCity: {LOCATION}",
    "Q: Who should we contact in an emergency?\nA: my sister {PERSON}, {PHONE_NUMBER}",
    "name - {person_lower}\nemail - {EMAIL_ADDRESS}\nwhy do you want to volunteer? "
    "i love animals and live close by",
    "Please describe the issue: The technician, {PERSON}, never showed up to {ADDRESS}. "
    "I took the day off work for this.",
    # --- order / delivery notes ---
    "Delivery instructions: leave parcel with neighbour at {ADDRESS} if no answer. "
    "Ring {PHONE_NUMBER} on arrival.",
    "Order note: gift for {PERSON} - please don't include the receipt! "
    "Ship to {ADDRESS}, {LOCATION}.",
    "driver pls call when outside, buzzer broken. {PHONE_NUMBER}",
    "Courier update: Package signed for by {person_lower} at the front desk, {ADDRESS}.",
    # --- SMS ---
    "Hi its {PERSON} from the dental clinic, just a reminder of your appointment tmrw at 9:30. "
    "Reply C to confirm or call {PHONE_NUMBER}.",
    "running 10 min late sorry!! tell {person_lower} to start without me",
    "omg did u see what {PERSON} posted lol. call me later",
    # --- app reviews ---
    "5 stars. Customer service was amazing, shoutout to {PERSON} who sorted my refund in minutes!!",
    "1/5 app keeps crashing when i try to add my card {CREDIT_CARD}. fix it please",
    "Used this in {LOCATION} for a week, worked great. The host {PERSON} was very helpful "
    "and responsive.",
    # --- call-centre transcripts ---
    "AGENT: Can I take your full name please?\nCALLER: Yes it's {PERSON}.\n"
    "AGENT: And the first line of your address?\nCALLER: {ADDRESS}.",
    "[Transcript] Caller identified as {person_lower}. Verified last four of SSN, full number "
    "on file {US_SSN}. Caller requested a copy of the statement.",
    "Agent: I'll just need the IBAN for the refund.\nCaller: Sure, it's {IBAN_CODE}.\n"
    "Agent: Thank you, that's been added.",
    "Supervisor review: {PERSON} handled the escalation well but should not have read back "
    "the card number {CREDIT_CARD} on a recorded line.",
    # --- HR messages ---
    "Hi all, please welcome {PERSON} who joins the data team on Monday! "
    "They'll be sitting in the {LOCATION} office.",
    "Payroll: please update bank details for {PERSON}, employee 4471. New IBAN: {IBAN_CODE}.",
    "Reference request: {PERSON} worked under me for three years and I would recommend her "
    "without hesitation. Feel free to call me on {PHONE_NUMBER}.",
    "Reminder: {person_lower} still hasn't returned the signed W-4. SSN on the draft form is "
    "{US_SSN}, please double check it before filing.",
    # --- bank / payment messages ---
    "Payment received from {PERSON}. Reference: INV-20931. Sender account {IBAN_CODE}.",
    "Transfer to {IBAN_CODE} failed: beneficiary name does not match. "
    "Please contact us at {PHONE_NUMBER}.",
    "Alert: a purchase was attempted on card {CREDIT_CARD} from IP {IP_ADDRESS}. "
    "If this was not you, freeze your card in the app.",
    # --- meeting notes / attendee lists ---
    "Meeting notes - Q3 planning\nAttendees: {PERSON}, {PERSON}, {PERSON}\n"
    "Actions: {PERSON} to circulate budget by EOW.",
    "Attendees:\n- {PERSON} (chair)\n- {PERSON}\n- {person_lower} (guest)\n"
    "Location: Room 4B, {ADDRESS}",
    "notes from sync: {person_lower} thinks the launch should slip a week. "
    "{PERSON} disagreed. revisit next tues.",
    # --- social media style replies ---
    "@support my parcel went to {ADDRESS} instead of my place, been a week now",
    "congrats {PERSON}!! so well deserved",
    "Anyone in {LOCATION} know a good plumber? DM me or text {PHONE_NUMBER}",
    # --- multi-person threads ---
    "{PERSON}: did the client sign?\n{PERSON}: not yet, chasing them today\n"
    "{PERSON}: ok ping me at {EMAIL_ADDRESS} when they do",
    "Re: Re: Re: venue\n> {PERSON} wrote:\n> Can we do {ADDRESS} instead?\n\n"
    "Works for me. Copying {PERSON} who books the rooms.",
    # --- CSV-like lines ---
    "id,name,email,phone\n1042,{PERSON},{EMAIL_ADDRESS},{PHONE_NUMBER}",
    "{person_lower};{ADDRESS};{LOCATION};{US_SSN}",
    # --- JSON-like snippets ---
    '"customer": "{PERSON}", "email": "{EMAIL_ADDRESS}", "city": "{LOCATION}"',
    'payload: [ "name": "{PERSON}", "card": "{CREDIT_CARD}", "ip": "{IP_ADDRESS}" ]',
    # --- log lines ---
    "2024-03-11T08:14:55Z INFO auth: login ok user={EMAIL_ADDRESS} src={IP_ADDRESS}",
    "WARN payment-svc: declined card={CREDIT_CARD} holder={person_lower} reason=insufficient_funds",
    "ERROR 500 POST /api/v2/profile from {IP_ADDRESS} - invalid phone {PHONE_NUMBER}",
    "audit: record for {PERSON} exported by admin from {IP_ADDRESS}",
)
