"""Blind held-out templates for bench/pii_set.py, written without looking at the
recognizers: they were drafted from the placeholder list alone, so they test the
detector on text it was not tuned on.
"""

BLIND_TEMPLATES = (
    (
        "Hi, my name is {PERSON} and I can't log in since last Tuesday. "
        "My account email is {EMAIL_ADDRESS}."
    ),
    (
        "Dear support team,\n\nPlease update my billing details. "
        "The new card is {CREDIT_CARD}.\n\nKind regards,\n{PERSON}\n{PHONE_NUMBER}"
    ),
    (
        "---------- Forwarded message ---------\n"
        "From: {PERSON} <{EMAIL_ADDRESS}>\n"
        "Date: Mon, 3 Jun at 09:14\n"
        "Subject: Re: order 55812\n\n"
        "Still waiting for the refund, please advise."
    ),
    (
        "Full name: {PERSON}\nStreet: {ADDRESS}\nCity: {LOCATION}\n"
        "Phone: {PHONE_NUMBER}\nComments: leave parcel with neighbour"
    ),
    (
        "Caller verified with SSN {US_SSN} and date of birth. "
        "Wants a callback at {PHONE_NUMBER} after 5pm. -- agent 114"
    ),
    (
        "Please deliver to {ADDRESS}, {LOCATION}. Ring twice, the bell is broken. "
        "If no one answers call {PHONE_NUMBER}."
    ),
    (
        "Transfer of EUR 450.00 to {IBAN_CODE} (beneficiary: {PERSON}) was rejected "
        "on 12 March. Reference INV-2291."
    ),
    (
        "To whom it may concern,\n\n"
        "I am writing to complain about the service at your {LOCATION} branch. "
        "On Friday I was charged twice on card {CREDIT_CARD} and nobody could "
        "explain why.\n\nYours faithfully,\n{PERSON}\n{ADDRESS}"
    ),
    (
        "2024-05-02 - spoke w/ {person_lower}, upgrade to premium plan, "
        "confirmation sent to {EMAIL_ADDRESS}. Follow up in 2 weeks."
    ),
    "hey its {person_lower} here, cant make it 2moro, txt me at {PHONE_NUMBER} pls",
    (
        "Hello, I am writing you because my account is blocked since three days. "
        "My IBAN is {IBAN_CODE} and the name of account holder is {PERSON}. "
        "Please to help me urgent."
    ),
    (
        "Customer reports a login from {IP_ADDRESS} that they do not recognise; "
        "says they have never been outside {LOCATION} this year."
    ),
    "my laptop ip is {IP_ADDRESS} and the vpn keeps dropping, user is {person_lower}",
    "Applicant: {PERSON}\nSSN: {US_SSN}\nMailing address: {ADDRESS}, {LOCATION}",
    (
        "I see a payment I never made on {CREDIT_CARD}, could you block it "
        "before the weekend? Thanks, {person_lower}"
    ),
    (
        "Account flagged: multiple failed logins from {IP_ADDRESS}; card "
        "{CREDIT_CARD} temporarily frozen. Notify holder by phone ({PHONE_NUMBER})."
    ),
    (
        "Please set up the direct debit from IBAN {IBAN_CODE} starting next month. "
        "Account holder: {person_lower}."
    ),
    (
        "Good morning, me and my wife we move to new house at {ADDRESS} in "
        "{LOCATION}, please you change the address for the contract. "
        "Thank you very much."
    ),
    (
        "Can you send the invoice to {EMAIL_ADDRESS} instead? The old one doesnt "
        "work anymore.\n\nSent from my phone"
    ),
    (
        "New hire paperwork received for {PERSON} (employee number 4471). "
        "SSN {US_SSN} entered in payroll; salary to IBAN {IBAN_CODE}."
    ),
    (
        "Agent: Can I have the email on the account?\n"
        "Customer: sure its {EMAIL_ADDRESS}\n"
        "Agent: And the postcode?\n"
        "Customer: i moved, new address is {ADDRESS}"
    ),
    (
        "Your site banned my IP ({IP_ADDRESS}) for no reason!!! I have been a "
        "customer for 6 years. -- {PERSON}"
    ),
    (
        "voicemail transcript: hi this is {person_lower} calling about order 55812, "
        "please call me back on {PHONE_NUMBER}, thanks bye"
    ),
    (
        "Dear Sir, I have problem with payment. The card {CREDIT_CARD} is refuse "
        "each time when I try. I am in {LOCATION} for holiday, maybe this is reason?"
    ),
    (
        "Refund approved. Amount: 89.90\nMethod: bank transfer\nIBAN: {IBAN_CODE}\n"
        "Requested by: {PERSON}\nTicket #88213"
    ),
    (
        "Q: What is your Social Security Number?\nA: {US_SSN}\n"
        "Q: Best number to reach you?\nA: {PHONE_NUMBER}"
    ),
    (
        "ur parcel is at the depot, pick up from {ADDRESS} before 6pm or reply "
        "with a new slot. ref 55812"
    ),
    (
        "Lead source: webinar. Contact {PERSON}, based in {LOCATION}, prefers "
        "email ({EMAIL_ADDRESS}) over calls."
    ),
    (
        "Firewall whitelist request\nRequester: {person_lower}\n"
        "Source IP: {IP_ADDRESS}\nReason: remote access for the quarterly audit"
    ),
    (
        "THIS IS THE THIRD TIME I AM WRITING. my ssn {US_SSN} was printed on the "
        "envelope you sent to my home!! unacceptable."
    ),
    (
        "Hello, please find my datas: name {person_lower}, iban {IBAN_CODE}, "
        "telephone {PHONE_NUMBER}. I wait for your answer."
    ),
    (
        "Thanks for the quick reply!\n\nBest,\n{PERSON}\n"
        "Senior Buyer | Procurement\nM: {PHONE_NUMBER} | E: {EMAIL_ADDRESS}"
    ),
    (
        "Pls charge the remaining balance to {CREDIT_CARD}, same billing address "
        "as before ({ADDRESS})."
    ),
    (
        "Account recovery request from {IP_ADDRESS}. Claimed owner: {PERSON}. "
        "Recovery email provided: {EMAIL_ADDRESS}. Status: pending review."
    ),
    (
        "Landlord reference for {person_lower}: tenant at {ADDRESS} for two years, "
        "always paid on time, no complaints from neighbours."
    ),
    (
        "ok so i tried again from {LOCATION} and it still says card declined. "
        "card is {CREDIT_CARD} if that helps"
    ),
    (
        "Re: 1099 correction\n\nThe SSN on my form is wrong. It should be {US_SSN}, "
        "not the one printed. Please reissue to {ADDRESS}.\n\n{PERSON}"
    ),
    (
        "Sorry for my english. My son {PERSON} has order on your shop but he use "
        "my email {EMAIL_ADDRESS}. Can you put on his name please?"
    ),
    (
        "Incoming SEPA credit from {IBAN_CODE}, remitter {person_lower}, "
        "reference 'rent march'. Logged from terminal {IP_ADDRESS}."
    ),
)
